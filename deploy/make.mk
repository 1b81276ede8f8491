# Run the whole platform in containers. Included by the main Makefile:
#   make up     build the images, start Postgres, RabbitMQ, the migrations and the services
#   make down   stop and remove the containers (volumes are kept)

DOCKER ?= docker
GATEWAY_PUBLISHED_PORT ?= 8000

define deploy_require_compose
	@command -v $(DOCKER) >/dev/null 2>&1 || { \
		echo "make $@: the '$(DOCKER)' command was not found; install Docker Engine (or Docker Desktop)." >&2; \
		exit 1; }
	@$(DOCKER) compose version >/dev/null 2>&1 || { \
		echo "make $@: the Docker Compose plugin is missing ('$(DOCKER) compose' does not work); install docker-compose-plugin." >&2; \
		exit 1; }
	@$(DOCKER) info >/dev/null 2>&1 || { \
		echo "make $@: no Docker engine is reachable; start Docker (or set DOCKER_HOST) and try again." >&2; \
		exit 1; }
endef

.PHONY: up down

up:
	$(deploy_require_compose)
	$(DOCKER) compose up -d --build
	@echo "Base Platform is starting: gateway at http://localhost:$(GATEWAY_PUBLISHED_PORT)"
	@echo "  health: http://localhost:$(GATEWAY_PUBLISHED_PORT)/ready   API docs: http://localhost:$(GATEWAY_PUBLISHED_PORT)/api/v1/docs"

down:
	$(deploy_require_compose)
	$(DOCKER) compose down
