"""libconvt's failures as Python exceptions, one class per status.

Each class also derives from the built-in exception Python code already catches for that
kind of failure (ValueError for bad arguments and shapes, RuntimeError for calls out of
order, MemoryError, NotImplementedError), so `except ValueError` works as with Keras.
"""

from . import _capi


class ConvtError(Exception):
    """A failed libconvt call: `status` (int), `status_name` ("CONVT_E_SHAPE") and
    `message`, the library's message saying what was wrong and what was expected."""

    def __init__(self, status, message):
        self.status = status
        self.status_name = _capi.status_string(status)
        self.message = message
        super().__init__(f"{self.status_name}: {message}")


class InvalidArgumentError(ConvtError, ValueError):
    """CONVT_E_INVALID_ARGUMENT: a value out of range, an unknown name, a bad combination."""


class ShapeError(ConvtError, ValueError):
    """CONVT_E_SHAPE: lengths, channels or buffer sizes that do not fit the layer."""


class StateError(ConvtError, RuntimeError):
    """CONVT_E_STATE: a call out of order (forward before weights) or the wrong dtype."""


class OutOfMemoryError(ConvtError, MemoryError):
    """CONVT_E_OUT_OF_MEMORY."""


class UnsupportedError(ConvtError, NotImplementedError):
    """CONVT_E_UNSUPPORTED: a valid Keras request this version cannot do."""


class InternalError(ConvtError, RuntimeError):
    """CONVT_E_INTERNAL: a bug in libconvt; please report it with the message."""


_BY_STATUS = {
    _capi.E_INVALID_ARGUMENT: InvalidArgumentError,
    _capi.E_SHAPE: ShapeError,
    _capi.E_STATE: StateError,
    _capi.E_OUT_OF_MEMORY: OutOfMemoryError,
    _capi.E_UNSUPPORTED: UnsupportedError,
    _capi.E_INTERNAL: InternalError,
}


def error(status, message):
    """The exception for a status and message."""
    return _BY_STATUS.get(status, ConvtError)(status, message)


def check(status):
    """Raises the exception for a failing status with this thread's last message. Called
    right after each C call, before any other call can replace the message."""
    if status != _capi.OK:
        raise error(status, _capi.last_error())
