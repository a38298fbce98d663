"""The agent's errors: requests it cannot take.

```
AgentError                  empty request, ...
├── AgentNotFoundError      no such plan or conversation of this principal
└── PlanStateError          the plan is not in a state that allows the request
```
"""

from __future__ import annotations


class AgentError(Exception):
    """A request the agent cannot take (empty message, unknown or finished plan)."""


class AgentNotFoundError(AgentError):
    """No plan, step or conversation of that id belongs to the principal."""


class PlanStateError(AgentError):
    """The plan cannot do that now: it is finished, running, or waits for something else."""
