from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts import api as accounts_api
from agents import api as agents_api
from agents import player_api, tenant_api
from audit import api as audit_api
from betting import api as betting_api
from betting import challenge_api
from casino import api as casino_api
from casino import export_api as casino_export_api
from events import api as events_api
from ledger import api as ledger_api
from oddslab.views import health
from risk import aml_api, kyc_api
from risk import api as risk_api
from risk.kyc import KYC_DECISIONS
from wallet import api as wallet_api
from wallet import bonus_api

api_v1 = [
    path("auth/register", accounts_api.RegisterApi.as_view(), name="register"),
    path("auth/token", accounts_api.TokenApi.as_view(), name="token"),
    path("me", accounts_api.MeApi.as_view(), name="me"),
    path("me/stats", betting_api.MeStatsApi.as_view(), name="me-stats"),
    path("me/sessions", accounts_api.SessionListApi.as_view(), name="me-sessions"),
    path("me/sessions/<int:pk>/end", accounts_api.SessionEndApi.as_view(), name="me-session-end"),
    path("me/limits", risk_api.MeLimitsApi.as_view(), name="me-limits"),
    path("me/time-out", risk_api.TimeOutApi.as_view(), name="me-time-out"),
    path("me/self-exclusion", risk_api.SelfExclusionApi.as_view(), name="me-self-exclusion"),
    path("me/kyc", kyc_api.MeKycApi.as_view(), name="me-kyc"),
    path("leaderboard", betting_api.LeaderboardApi.as_view(), name="leaderboard"),
    path("wallet", wallet_api.WalletApi.as_view(), name="wallet"),
    path("wallet/deposits", wallet_api.DepositApi.as_view(), name="wallet-deposit"),
    path("wallet/withdrawals", wallet_api.WithdrawalApi.as_view(), name="wallet-withdraw"),
    path("wallet/transactions", wallet_api.WalletTransactionsApi.as_view(),
         name="wallet-transactions"),
    path("external-wallet", wallet_api.ExternalWalletApi.as_view(), name="external-wallet"),
    path("external-wallet/top-ups", wallet_api.ExternalTopUpApi.as_view(), name="external-wallet-top-up"),
    path("bonuses", bonus_api.BonusApi.as_view(), name="bonuses"),
    path("tenants", tenant_api.TenantListApi.as_view(), name="tenants"),
    path("agent/players", player_api.AgentPlayersApi.as_view(), name="agent-players"),
    path("accounts", ledger_api.AccountListApi.as_view(), name="ledger-accounts"),
    path("accounts/<int:pk>/transactions", ledger_api.AccountTransactionsApi.as_view(),
         name="ledger-account-transactions"),
    path("ledger/check", ledger_api.LedgerCheckApi.as_view(), name="ledger-check"),
    path("events", events_api.EventListApi.as_view(), name="events"),
    path("events/<int:pk>", events_api.EventDetailApi.as_view(), name="event"),
    path("events/<int:pk>/players", events_api.EventPlayersApi.as_view(), name="event-players"),
    path("events/<int:pk>/start", events_api.EventStartApi.as_view(), name="event-start"),
    path("events/<int:pk>/result", events_api.EventResultApi.as_view(), name="event-result"),
    path("events/<int:pk>/cancel", events_api.EventCancelApi.as_view(), name="event-cancel"),
    path("events/<int:pk>/settlement", betting_api.EventSettlementApi.as_view(), name="event-settlement"),
    *[path(f"markets/<int:pk>/{action}", events_api.MarketActionApi.as_view(action_name=action),
           name=f"market-{action}") for action in events_api.MarketActionApi.ACTIONS],
    path("outcomes/<int:pk>/price", events_api.OutcomePriceApi.as_view(), name="outcome-price"),
    path("outcomes/<int:pk>/release", events_api.OutcomeReleaseApi.as_view(), name="outcome-release"),
    path("bets", betting_api.BetListApi.as_view(), name="bets"),
    path("bets/validate", betting_api.BetValidateApi.as_view(), name="bet-validate"),
    path("bets/<int:pk>", betting_api.BetDetailApi.as_view(), name="bet"),
    path("bets/<int:pk>/settle", betting_api.BetSettleApi.as_view(), name="bet-settle"),
    path("challenges", challenge_api.ChallengeListApi.as_view(), name="challenges"),
    path("challenges/<int:pk>", challenge_api.ChallengeDetailApi.as_view(), name="challenge"),
    path("challenges/<int:pk>/accept", challenge_api.ChallengeAcceptApi.as_view(), name="challenge-accept"),
    path("challenges/<int:pk>/cancel", challenge_api.ChallengeCancelApi.as_view(), name="challenge-cancel"),
    path("casino/seed", casino_api.CasinoSeedApi.as_view(), name="casino-seed"),
    path("casino/seed/rotate", casino_api.CasinoSeedRotateApi.as_view(), name="casino-seed-rotate"),
    path("casino/rounds", casino_api.CasinoRoundListApi.as_view(), name="casino-rounds"),
    path("casino/rounds/<int:pk>/verify", casino_api.CasinoRoundVerifyApi.as_view(), name="casino-round-verify"),
    path("reports/ggr", betting_api.GgrReportApi.as_view(), name="report-ggr"),
    path("escrow/audit", betting_api.EscrowAuditApi.as_view(), name="escrow-audit"),
    path("reports/liabilities", betting_api.LiabilityReportApi.as_view(), name="report-liabilities"),
    *[path(f"exports/{name}.csv", betting_api.ExportApi.as_view(export_name=name), name=f"export-{name}")
      for name in betting_api.ExportApi.EXPORTS],
    path("audit-logs", audit_api.AuditLogListApi.as_view(), name="audit-logs"),
    path("exports/audit-logs.csv", audit_api.AuditLogExportApi.as_view(),
         name="export-audit-logs"),
    path("compliance/kyc", kyc_api.KycSubmissionListApi.as_view(), name="compliance-kyc"),
    path("compliance/kyc/documents/<int:pk>", kyc_api.KycSubmissionDetailApi.as_view(),
         name="compliance-kyc-document"),
    *[path(f"compliance/kyc/<int:user_id>/{decision}", kyc_api.KycDecisionApi.as_view(decision=decision),
           name=f"compliance-kyc-{decision}") for decision in KYC_DECISIONS],
    path("compliance/alerts", aml_api.AmlAlertListApi.as_view(), name="aml-alerts"),
    path("compliance/alerts/<int:pk>", aml_api.AmlAlertUpdateApi.as_view(), name="aml-alert"),
    path("exports/aml-alerts.csv", aml_api.AmlAlertExportApi.as_view(), name="export-aml-alerts"),
    path("commissions", agents_api.CommissionListApi.as_view(), name="commissions"),
    path("commissions/run", agents_api.CommissionRunApi.as_view(), name="commissions-run"),
    *[path(f"commissions/<int:pk>/{decision}", agents_api.CommissionDecisionApi.as_view(decision=decision),
           name=f"commission-{decision}") for decision in agents_api.CommissionDecisionApi.DECISIONS],
    path("exports/commissions.csv", agents_api.CommissionExportApi.as_view(), name="export-commissions"),
    path("exports/casino-rounds.csv", casino_export_api.CasinoRoundExportApi.as_view(), name="export-casino-rounds"),
]

handler404 = "core.api.not_found"  # the error shape for an unknown /api/ URL

urlpatterns = [
    path("", include("oddslab.web.urls")),
    path("healthz", health, name="health"),
    path("admin/console/", include("oddslab.console.urls")),  # before the admin's catch-all
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]
