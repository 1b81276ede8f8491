from pydantic import Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = Field(default=8001, validation_alias="WORKSPACES_PORT")
