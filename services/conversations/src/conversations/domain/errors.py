"""Domain errors; the API maps each to a status, the message is the readable detail."""


class NotAuthenticated(Exception):
    """The request acts for nobody, but the route needs an owner."""


class NoWorkspace(LookupError):
    """The caller owns no (live) workspace yet."""


class WorkspaceNotFound(LookupError):
    pass


class ConversationNotFound(LookupError):
    pass


class MessageNotFound(LookupError):
    pass


class ChannelAccountNotFound(LookupError):
    pass


class ChannelAccountTaken(Exception):
    """(channel, account id) already routes to a workspace."""


class VisitorTaken(Exception):
    """The workspace already has a conversation with this visitor on this channel."""


class InvalidVisitorToken(Exception):
    pass


class RateLimited(Exception):
    def __init__(self, retry_after: int, message: str = "Too many requests, slow down") -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidRange(ValueError):
    """A date range the stats cannot cover."""


class InvalidCredentials(ValueError):
    """Channel credentials that do not fit the channel (the detail never holds a secret)."""


class MessageNotRetryable(Exception):
    """Only a failed reply, or one whose outcome is unknown, can be sent again."""


class InvalidReply(ValueError):
    """A reply the channel cannot carry (e.g. a template on a channel without templates)."""


class NoInboundSecret(Exception):
    """Only integrator accounts (chatgpt, phone) sign what they send with a secret of ours."""


class ContactNotFound(LookupError):
    pass
