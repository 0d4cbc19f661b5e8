"""Stage 1, legacy: one instance, disk sessions, mail sent inside the request, top-10 live."""

from shared.topology import Topology

TOPOLOGY = Topology(
    stage="legacy",
    title="The legacy monolith: one app instance does everything inside the request",
    change="(the baseline)",
    app="stages.legacy.app:create_app()",
)
