"""Identity rules that fail. Each maps to one HTTP status in `api/errors.py`."""


class IdentityError(Exception):
    """Base class; the message is what the caller reads."""


class EmailTaken(IdentityError):
    def __init__(self) -> None:
        super().__init__("A user with this email already exists")


class UserNotFound(IdentityError):
    def __init__(self) -> None:
        super().__init__("User not found")


class IncorrectCredentials(IdentityError):
    def __init__(self) -> None:
        super().__init__("Incorrect email or password")


class InactiveUser(IdentityError):
    def __init__(self) -> None:
        super().__init__("Inactive user")


class NotEnoughPrivileges(IdentityError):
    def __init__(self) -> None:
        super().__init__("The user doesn't have enough privileges")


class SuperuserSelfDelete(IdentityError):
    def __init__(self) -> None:
        super().__init__("Super users are not allowed to delete themselves")


class InvalidResetToken(IdentityError):
    def __init__(self) -> None:
        super().__init__("Invalid or expired password reset token")


class IncorrectPassword(IdentityError):
    def __init__(self) -> None:
        super().__init__("Incorrect password")


class SamePassword(IdentityError):
    def __init__(self) -> None:
        super().__init__("New password cannot be the same as the current one")


class TooManyAttempts(IdentityError):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("Too many failed login attempts; try again later")
        self.retry_after_seconds = retry_after_seconds


class TooManyRecoveryRequests(TooManyAttempts):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(retry_after_seconds)
        self.args = ("Too many password recovery requests; try again later",)


class InvalidEmailChangeToken(IdentityError):
    def __init__(self) -> None:
        super().__init__("Invalid, expired or already used e-mail confirmation link")


class EmailChangeNeedsPassword(IdentityError):
    def __init__(self) -> None:
        super().__init__(
            "Changing the e-mail needs your password: POST /api/v1/users/me/email "
            "with new_email and current_password, then open the link sent to the new address"
        )


class SameEmail(IdentityError):
    def __init__(self) -> None:
        super().__init__("That is already the account's e-mail")
