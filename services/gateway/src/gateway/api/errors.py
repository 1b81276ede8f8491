from fastapi import Request
from fastapi.responses import JSONResponse

from gateway.domain import errors
from shared.web import exception_handlers

ERROR_STATUS = [
    (errors.EmailTaken, 409),
    (errors.UserNotFound, 404),
    (errors.IncorrectCredentials, 400),
    (errors.InactiveUser, 400),
    (errors.NotEnoughPrivileges, 403),
    (errors.SuperuserSelfDelete, 403),
    (errors.InvalidResetToken, 400),
    (errors.IncorrectPassword, 400),
    (errors.SamePassword, 400),
    (errors.InvalidEmailChangeToken, 400),
    (errors.EmailChangeNeedsPassword, 400),
    (errors.SameEmail, 400),
]


async def too_many_attempts(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.TooManyAttempts)
    return JSONResponse(
        {"detail": str(exc)},
        status_code=429,
        headers={"Retry-After": str(exc.retry_after_seconds)},
    )


def handlers() -> dict:  # type: ignore[type-arg]
    mapping = exception_handlers(ERROR_STATUS)
    mapping[errors.TooManyAttempts] = too_many_attempts
    return mapping
