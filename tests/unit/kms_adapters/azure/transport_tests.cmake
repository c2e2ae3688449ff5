# (transport tests are listed here)
