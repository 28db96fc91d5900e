"""Exceptions: every failure carries an sq_status and a message naming the bad value."""

from ._abi import Status


class SmoothQuantError(RuntimeError):
    """A call failed. ``status`` is the library's sq_status (a :class:`Status`), ``message`` the
    library's own sq_last_error_message() text (or the binding's, for checks made before the C
    call), ``function`` the C function or binding method that failed."""

    def __init__(self, status, message, function=None):
        self.status = Status(status) if status in Status._value2member_map_ else status
        self.message = message
        self.function = function
        name = self.status.name if isinstance(self.status, Status) else f"status {status}"
        where = f"{function}: " if function else ""
        text = message[len(where):] if where and message.startswith(where) else message  # no "fn: fn: ..."
        super().__init__(f"{where}SQ_STATUS_{name}: {text}")


class NotSupportedError(SmoothQuantError):
    """SQ_STATUS_NOT_SUPPORTED: valid, but this op/dtype/GPU combination is not implemented."""


class NoDeviceError(SmoothQuantError):
    """SQ_STATUS_NO_DEVICE: a GPU preference, but no usable CUDA GPU/driver."""


class ArgumentError(SmoothQuantError, ValueError):
    """A bad argument (shape, stride, device, value), found by the binding before the C call or
    by the library. ``argument`` names it when known."""

    def __init__(self, status, message, function=None, argument=None):
        self.argument = argument
        super().__init__(status, message, function)


class DTypeError(ArgumentError, TypeError):
    """An array of the wrong dtype (found by the binding before the C call)."""


class PlanClosedError(SmoothQuantError):
    """The plan was closed (destroyed); status INVALID_HANDLE."""


_BY_STATUS = {
    Status.NOT_SUPPORTED: NotSupportedError,
    Status.NO_DEVICE: NoDeviceError,
    Status.INVALID_ARGUMENT: ArgumentError,
    Status.INVALID_STRUCT_SIZE: ArgumentError,
    Status.MISALIGNED: ArgumentError,
    Status.WRONG_DEVICE: ArgumentError,
    Status.WRONG_MEMORY_SPACE: ArgumentError,
    Status.INSUFFICIENT_WORKSPACE: ArgumentError,
}


def from_status(status, message, function):
    """The exception for a failed C call."""
    return _BY_STATUS.get(status, SmoothQuantError)(status, message, function)


def bad_argument(argument, message, status=Status.INVALID_ARGUMENT, function=None):
    return ArgumentError(status, f"{argument}: {message}", function, argument)


def bad_dtype(argument, message, function=None):
    return DTypeError(Status.INVALID_ARGUMENT, f"{argument}: {message}", function, argument)
