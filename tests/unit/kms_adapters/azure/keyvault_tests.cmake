# (keyvault tests are listed here)
