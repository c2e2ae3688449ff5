# (entra tests are listed here)
