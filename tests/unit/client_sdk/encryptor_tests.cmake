# encryptor tests
