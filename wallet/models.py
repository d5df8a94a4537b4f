# A player's wallet is their ledger account (ledger.Account, kind "player").
