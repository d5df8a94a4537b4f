from django import forms


class SignupForm(forms.Form):
    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"}))
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    country = forms.CharField(min_length=2, max_length=2, help_text="Two letters, e.g. GB",
                              widget=forms.TextInput(attrs={"autocomplete": "country", "size": 2}))
    adult = forms.BooleanField(label="I am 18 or older", error_messages={
        "required": "You must be 18 or older to play."})


class AmountForm(forms.Form):
    amount = forms.DecimalField(min_value=0, max_digits=18, decimal_places=2,
                                widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
