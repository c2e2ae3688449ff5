# (Entra ID sources are listed here)
