#!/usr/bin/python3
"""An independent reader (and writer) of keybroker ciphertexts, format 1.

Written only from docs/ciphertext-format.md, with Debian's python3-cryptography,
to prove that document is enough to implement the format in another language.
The DEK is given in hex instead of being unwrapped through the broker (step 6 of
the document's "Decryption").

  ciphertext_decoder.py edek FILE
      prints the EDEK inside the ciphertext in FILE, in hex
  ciphertext_decoder.py decrypt --dek-hex HEX [--aad-hex HEX] FILE
      prints the plaintext (raw bytes) on stdout
  ciphertext_decoder.py encrypt --dek-hex HEX --edek-hex HEX [--aad-hex HEX] IN OUT
      encrypts the bytes of file IN into a ciphertext in file OUT

Exit status: 0 on success, 1 when the ciphertext is rejected (the reason on
stderr, nothing on stdout), 2 for bad arguments.
"""

import argparse
import os
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_1 = 0x01
NONCE_SIZE = 12
TAG_SIZE = 16


class Rejected(Exception):
    pass


def split(ciphertext):
    """Steps 1-5: returns (header, edek, nonce, encrypted, tag)."""
    if len(ciphertext) < 3:
        raise Rejected("truncated: %d bytes" % len(ciphertext))
    if ciphertext[0] != FORMAT_1:
        raise Rejected("unknown format byte 0x%02x" % ciphertext[0])
    edek_size = int.from_bytes(ciphertext[1:3], "big")
    if edek_size < 1:
        raise Rejected("EDEK length is 0")
    if len(ciphertext) < 3 + edek_size + NONCE_SIZE + TAG_SIZE:
        raise Rejected("truncated: %d bytes for a %d-byte EDEK" % (len(ciphertext), edek_size))
    header_end = 3 + edek_size + NONCE_SIZE
    header = ciphertext[:header_end]
    edek = ciphertext[3:3 + edek_size]
    nonce = ciphertext[3 + edek_size:header_end]
    encrypted = ciphertext[header_end:len(ciphertext) - TAG_SIZE]
    tag = ciphertext[len(ciphertext) - TAG_SIZE:]
    return header, edek, nonce, encrypted, tag


def decrypt(ciphertext, dek, aad):
    """Steps 1-7, with the DEK given."""
    header, _, nonce, encrypted, tag = split(ciphertext)
    if len(dek) != 32:
        raise Rejected("the DEK is %d bytes, not 32" % len(dek))
    try:
        # cryptography's AESGCM takes the tag appended to the ciphertext.
        return AESGCM(dek).decrypt(nonce, encrypted + tag, header + aad)
    except InvalidTag:
        raise Rejected("the tag does not verify") from None


def encrypt(plaintext, dek, edek, aad):
    """The document's "Encryption"."""
    if not 1 <= len(edek) <= 0xFFFF:
        raise Rejected("an EDEK is 1 to 65535 bytes")
    nonce = os.urandom(NONCE_SIZE)
    header = bytes([FORMAT_1]) + len(edek).to_bytes(2, "big") + edek + nonce
    sealed = AESGCM(dek).encrypt(nonce, plaintext, header + aad)  # ciphertext || tag
    return header + sealed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    edek_command = commands.add_parser("edek")
    edek_command.add_argument("file")
    decrypt_command = commands.add_parser("decrypt")
    decrypt_command.add_argument("--dek-hex", required=True)
    decrypt_command.add_argument("--aad-hex", default="")
    decrypt_command.add_argument("file")
    encrypt_command = commands.add_parser("encrypt")
    encrypt_command.add_argument("--dek-hex", required=True)
    encrypt_command.add_argument("--edek-hex", required=True)
    encrypt_command.add_argument("--aad-hex", default="")
    encrypt_command.add_argument("input")
    encrypt_command.add_argument("output")
    args = parser.parse_args()

    try:
        if args.command == "edek":
            with open(args.file, "rb") as f:
                print(split(f.read())[1].hex())
        elif args.command == "decrypt":
            with open(args.file, "rb") as f:
                ciphertext = f.read()
            plaintext = decrypt(ciphertext, bytes.fromhex(args.dek_hex),
                                bytes.fromhex(args.aad_hex))
            sys.stdout.buffer.write(plaintext)
        else:
            with open(args.input, "rb") as f:
                plaintext = f.read()
            ciphertext = encrypt(plaintext, bytes.fromhex(args.dek_hex),
                                 bytes.fromhex(args.edek_hex), bytes.fromhex(args.aad_hex))
            with open(args.output, "wb") as f:
                f.write(ciphertext)
    except Rejected as e:
        print("rejected: %s" % e, file=sys.stderr)
        return 1
    except ValueError as e:  # bad hex
        print("bad argument: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
