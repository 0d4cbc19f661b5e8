"""Mail provider simulator: an SMTP sink with injectable latency, faults and an HTTP inbox."""

from mailsim.server import MailSimulator, PortInUseError

__all__ = ["MailSimulator", "PortInUseError"]
