"""The base of every domain error. Apps define subclasses in their own errors.py."""


class DomainError(Exception):
    """A refused business operation with a stable machine-readable `code`.

    The API maps it to 409 (a conflict with current state) or 400 (`status=400`), with
    `field` naming the input at fault where there is one.
    """

    status = 409

    def __init__(self, message: str, *, code: str, field: str | None = None, status=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        if status is not None:
            self.status = status
