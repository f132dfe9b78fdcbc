"""Parts' service layer: the use cases, each a function of the caller's unit of work
(`parts.store.PartsUnitOfWork`). Stock movements are in `stock`, the catalogue in
`catalogue`, the read-only books in `books`; the rules they apply are `parts.domain`'s."""

from parts.use_cases.books import (
    movements,
    reorder_suggestions,
    reservations,
    stocktakes,
    trace_batch,
    trace_serial,
    trace_vehicle,
)
from parts.use_cases.catalogue import (
    create_part,
    delete_vin_model,
    find_parts,
    part,
    price_of,
    put_vin_model,
    update_part,
    vin_models,
)
from parts.use_cases.stock import (
    count,
    issue,
    quote_decided,
    receive,
    release,
    repair_order_ended,
    return_parts,
    transfer,
)

__all__ = [
    "count", "create_part", "delete_vin_model", "find_parts", "issue", "movements", "part",
    "price_of", "put_vin_model", "quote_decided", "receive", "release", "reorder_suggestions",
    "repair_order_ended", "reservations", "return_parts", "stocktakes", "trace_batch",
    "trace_serial", "trace_vehicle", "transfer", "update_part", "vin_models",
]
