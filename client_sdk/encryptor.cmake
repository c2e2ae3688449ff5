# Encryptor sources
