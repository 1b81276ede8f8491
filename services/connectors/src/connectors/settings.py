from pydantic import Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = Field(default=8002, validation_alias="CONNECTORS_PORT")
