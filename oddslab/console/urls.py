from django.urls import path

from oddslab.console import commissions, views

app_name = "console"

urlpatterns = [
    path("", views.index, name="index"),
    path("liabilities/", views.liabilities, name="liabilities"),
    path("reports/ggr/", views.ggr, name="ggr"),
    path("reports/settlements/", views.settlements, name="settlements"),
    path("ledger/", views.ledger_accounts, name="ledger"),
    path("ledger/<int:pk>/", views.ledger_statement, name="ledger-statement"),
    path("audit/", views.audit, name="audit"),
    path("aml-alerts/", views.aml_alerts, name="aml-alerts"),
    path("aml-alerts/<int:pk>/", views.aml_alert_step, name="aml-alert"),
    path("kyc/", views.kyc, name="kyc"),
    path("kyc/<int:pk>/", views.kyc_document, name="kyc-document"),
    path("kyc/<int:pk>/decide/", views.kyc_decide, name="kyc-decide"),
    path("commissions/", commissions.commissions, name="commissions"),
    path("commissions/<int:pk>/decide/", commissions.commission_decide, name="commission-decide"),
]
