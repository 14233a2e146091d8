"""Every table's model, imported so Alembic (and later the data map) sees the whole schema."""

from courtyard.db.base import Base
from courtyard.domains.accounts import models as _accounts  # noqa: F401
from courtyard.domains.audit import models as _audit  # noqa: F401
from courtyard.domains.jobs import models as _jobs  # noqa: F401
from courtyard.domains.keys import models as _keys  # noqa: F401
from courtyard.domains.legal import models as _legal  # noqa: F401
from courtyard.domains.media import models as _media  # noqa: F401
from courtyard.domains.messaging import models as _messaging  # noqa: F401
from courtyard.domains.privacy import models as _privacy  # noqa: F401
from courtyard.domains.todevice import models as _todevice  # noqa: F401
from courtyard.domains.wallet import commerce_models as _wallet_commerce  # noqa: F401
from courtyard.domains.wallet import flow_models as _wallet_flows  # noqa: F401
from courtyard.domains.wallet import models as _wallet  # noqa: F401
from courtyard.domains.wallet import oversight_models as _wallet_oversight  # noqa: F401
from courtyard.streams import events as _streams  # noqa: F401

metadata = Base.metadata
