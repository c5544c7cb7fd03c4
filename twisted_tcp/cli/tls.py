"""
TLS for the line clients (C{send --tls}, C{chat --tls}; docs/clients.md, "TLS"):
the server's certificate is verified as C{get} verifies it
(L{twisted_tcp.http.tls}), and a client certificate is presented if asked for.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from twisted_tcp.cli.connect import host_to_reach
from twisted_tcp.cli.errors import ClientError
from twisted_tcp.cli.exitcodes import EXIT_CLIENT_CERTIFICATE, EXIT_USAGE
from twisted_tcp.http.tls import client_tls, load_ca


def tls_for(arguments: argparse.Namespace) -> Any:
    """
    The TLS connection creator the options ask for, or C{None} without C{--tls}.
    Every file is read here, before connecting.

    @raise ClientError: exit code 2 for a TLS option without C{--tls} (or C{--key}
        without C{--cert}), 58 for a client certificate that cannot be used.
    @raise twisted_tcp.http.errors.CACertError: exit code 77 for a bad C{--cacert}.
    """
    if not arguments.tls:
        for option in ("cacert", "cert", "key"):
            if getattr(arguments, option) is not None:
                raise ClientError(EXIT_USAGE, f"--{option} needs --tls")
        return None
    if arguments.key is not None and arguments.cert is None:
        raise ClientError(EXIT_USAGE, "--key needs --cert")
    trust = None if arguments.cacert is None else load_ca(arguments.cacert)
    certificate = None
    if arguments.cert is not None:
        certificate = load_client_certificate(arguments.cert, arguments.key)
    return client_tls(host_to_reach(arguments.host), trust, certificate)


def load_client_certificate(cert: str, key: str | None) -> Any:
    """
    The client certificate in the PEM file C{cert}, with its private key from
    C{key} (or from C{cert} too), as a Twisted C{PrivateCertificate}.

    @raise ClientError: exit code 58 if a file cannot be read, or they hold no
        certificate and matching key.
    """
    from twisted.internet import ssl

    pem = b""
    for option, path in (("--cert", cert), ("--key", key)):
        if path is None:
            continue
        try:
            pem += Path(path).read_bytes() + b"\n"
        except OSError as error:
            message = f"cannot read {option} {path}: {error.strerror}"
            raise ClientError(EXIT_CLIENT_CERTIFICATE, message) from None
    try:
        return ssl.PrivateCertificate.loadPEM(pem)
    except Exception:  # OpenSSL raises its own error types.
        files = cert if key is None else f"{cert} and --key {key}"
        message = f"--cert {files}: not a PEM certificate with its private key"
        raise ClientError(EXIT_CLIENT_CERTIFICATE, message) from None
