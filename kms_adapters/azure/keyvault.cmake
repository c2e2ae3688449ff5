# (Key Vault sources are listed here)
