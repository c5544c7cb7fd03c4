"""
TLS for the HTTP client (and the line clients' C{--tls}): the CA file of
C{--cacert}, and a server identity check that never lets a certificate through by
mistake (see docs/http-client.md, "TLS").

Twisted's own check passes the leaf certificate to service_identity and treats its
C{VerificationError} as a failure; but a certificate without subjectAltName makes
service_identity raise C{CertificateError} instead, which Twisted logs as a
traceback and then accepts the certificate, whatever host it was issued for. The
connection creator here runs the same check and refuses in both cases, with a
one-line reason.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_tcp.http.errors import CACertError, CertificateError, shown


def load_ca(path: str) -> Any:
    """
    The certificate in the PEM file C{path}, as a Twisted trust root.

    @raise CACertError: if it cannot be read or is not a PEM certificate.
    """
    from twisted.internet import ssl

    try:
        return ssl.Certificate.loadPEM(Path(path).read_bytes())
    except OSError as error:
        raise CACertError(f"cannot read --cacert {path}: {error.strerror}") from None
    except Exception:  # OpenSSL raises its own error types, with no plain words.
        raise CACertError(f"--cacert {path} is not a PEM certificate") from None


def client_tls(host: str, trust: Any, certificate: Any = None) -> Any:
    """
    The TLS connection creator for C{host}: C{trust} is C{False} to verify nothing
    (C{--insecure}), C{None} for the system's CAs, or a trust root from L{load_ca};
    C{certificate}, a C{PrivateCertificate} to present to the server, if any.
    """
    from twisted.internet import ssl

    if trust is False:
        return ssl.CertificateOptions()
    creator = ssl.optionsForClientTLS(
        host, trustRoot=trust, clientCertificate=certificate
    )
    return _IdentityChecking(creator, host)


@implementer(IOpenSSLClientConnectionCreator)
class _IdentityChecking:
    """
    Wraps Twisted's client connection creator, replacing its certificate check
    (see the module's docstring) with one that refuses what it cannot verify.
    """

    def __init__(self, creator: Any, host: str) -> None:
        self._creator = creator
        self._host = host

    def clientConnectionForTLS(self, tls_protocol: Any) -> Any:
        from OpenSSL import SSL

        connection = self._creator.clientConnectionForTLS(tls_protocol)
        check = _IdentityCheck(tls_protocol, self._host)
        connection.set_verify(
            SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, check.verify
        )
        return connection


class _IdentityCheck:
    """OpenSSL's verify callback for one connection: the leaf must name C{host}."""

    def __init__(self, tls_protocol: Any, host: str) -> None:
        self._protocol: Any = tls_protocol
        self._host = host

    def verify(self, connection: Any, certificate: Any, error: int, depth: int,
               ok: int) -> bool:  # fmt: skip
        """Chain errors are OpenSSL's to report; the leaf's names are ours."""
        if depth != 0 or not ok:
            return bool(ok)
        problem = certificate_problem(certificate, self._host)
        if problem is None:
            return True
        protocol, self._protocol = self._protocol, None
        if protocol is not None:
            protocol.failVerification(Failure(CertificateError(problem)))
        return False


def certificate_problem(certificate: Any, host: str) -> str | None:
    """
    Why the (pyOpenSSL) C{certificate} is not valid for C{host}, or C{None} if
    it is. Only subjectAltName counts: a certificate naming its host in the
    common name (CN) alone is refused, as RFC 9525 and today's browsers do.
    """
    from service_identity import CertificateError as Unusable
    from service_identity import VerificationError
    from service_identity.hazmat import (
        DNS_ID,
        IPAddress_ID,
        ServiceID,
        verify_service_identity,
    )
    from service_identity.pyopenssl import extract_patterns

    wanted: ServiceID
    try:
        ipaddress.ip_address(host)
    except ValueError:
        wanted = DNS_ID(host)
    else:
        wanted = IPAddress_ID(host)
    try:
        patterns = extract_patterns(certificate)
        verify_service_identity(patterns, [wanted], [])
    except Unusable:
        return (
            "the server's certificate has no subjectAltName, so it names no host "
            "(a common name alone is not trusted); make it with "
            f"-addext subjectAltName=DNS:{host}"
        )
    except VerificationError:
        names = ", ".join(_pattern_name(pattern) for pattern in patterns)
        return (
            f"the certificate is not for {host} (it is for {shown(names) or 'nothing'})"
        )
    return None


def _pattern_name(pattern: Any) -> str:
    """A subjectAltName entry as people write it: C{localhost}, C{127.0.0.1}."""
    from service_identity.hazmat import DNSPattern, IPAddressPattern

    if isinstance(pattern, DNSPattern):
        return pattern.pattern.decode("ascii", "replace")
    if isinstance(pattern, IPAddressPattern):
        return str(pattern.pattern)
    return type(pattern).__name__


def verification_error(reason: Failure) -> CertificateError | None:
    """
    The error for a connection lost to TLS (exit code 60): the identity check's
    refusal, or OpenSSL's reason; C{None} if C{reason} is no TLS failure.
    """
    if isinstance(reason.value, CertificateError):
        return reason.value  # A certificate refused by the identity check.
    if is_tls_error(reason):
        return CertificateError(f"TLS failure: {tls_message(reason)}")
    return None


def is_tls_error(reason: Failure) -> bool:
    """Whether a connection was lost to an OpenSSL error."""
    try:
        from OpenSSL import SSL
    except ImportError:  # pragma: no cover - twisted[tls] brings it.
        return False
    return reason.check(SSL.Error) is not None


def tls_message(reason: Failure) -> str:
    """The readable part of an OpenSSL error, e.g. 'certificate verify failed'."""
    text = str(reason.value)
    found = re.findall(r"'([a-z][a-z ]+[a-z])'\)", text)
    return found[-1] if found else text
