"""To-device messages: Olm-encrypted payloads queued for one device, delivered through sync."""

from courtyard.domains.todevice.erasure import erase_todevice_user
from courtyard.domains.todevice.errors import NotOlmEncrypted
from courtyard.domains.todevice.schemas import OlmEnvelope, SendToDeviceRequest, SendToDeviceResult
from courtyard.domains.todevice.service import TO_DEVICE_EVENT, ToDeviceService

__all__ = [
    "TO_DEVICE_EVENT",
    "NotOlmEncrypted",
    "OlmEnvelope",
    "SendToDeviceRequest",
    "SendToDeviceResult",
    "ToDeviceService",
    "erase_todevice_user",
]
