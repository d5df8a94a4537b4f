from django.urls import path

from oddslab.web import agent_views, casino_views, challenge_views, kyc_views, safer_views, session_views, views

app_name = "web"

urlpatterns = [
    path("", views.live, name="live"),
    path("events/<int:pk>", views.event_detail, name="event"),
    path("slip", views.slip_show, name="slip"),
    path("slip/outcomes/<int:outcome_id>", views.slip_toggle, name="slip-toggle"),
    path("slip/update", views.slip_update, name="slip-update"),
    path("slip/accept-prices", views.slip_accept_prices, name="slip-accept-prices"),
    path("slip/clear", views.slip_clear, name="slip-clear"),
    path("slip/place", views.slip_place, name="slip-place"),
    path("wallet", views.wallet, name="wallet"),
    path("challenges", challenge_views.challenges, name="challenges"),
    path("challenges/new", challenge_views.challenge_new, name="challenge-create"),
    path("challenges/<int:pk>/accept", challenge_views.challenge_take, name="challenge-accept"),
    path("challenges/<int:pk>/cancel", challenge_views.challenge_withdraw, name="challenge-cancel"),
    path("bets", views.my_bets, name="my-bets"),
    path("leaderboard", views.leaderboard_page, name="leaderboard"),
    path("notifications", views.notifications, name="notifications"),
    path("account/safer-gambling", safer_views.safer_gambling, name="safer-gambling"),
    path("account/kyc", kyc_views.kyc, name="kyc"),
    path("account/sessions", session_views.sessions, name="sessions"),
    path("account/sessions/<int:pk>/end", session_views.session_end, name="session-end"),
    path("signup", views.signup, name="signup"),
    path("account/agent", agent_views.agent, name="agent"),
    path("casino", casino_views.casino, name="casino"),
    path("casino/dice", casino_views.casino_dice, name="casino-dice"),
    path("casino/dice/odds", casino_views.casino_dice_odds, name="casino-dice-odds"),
    path("casino/roulette", casino_views.casino_roulette, name="casino-roulette"),
    path("casino/seed", casino_views.casino_seed, name="casino-seed"),
    path("casino/seed/rotate", casino_views.casino_rotate, name="casino-rotate"),
]
