"""The payer's page for ``wait_for_payer`` charges: plain HTML, two form buttons, no script."""

from __future__ import annotations

from html import escape

from courtyard.sandbox.store import Operation

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox payment</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; }}
button {{ font-size: 1.1rem; padding: .5rem 1.5rem; margin-right: 1rem; }}
.note {{ color: #666; font-size: .9rem; }}
</style>
</head>
<body>
<h1>Sandbox payment</h1>
<p class="note">A simulated payment provider: no real money moves.</p>
<p>Amount: <strong id="amount">{amount}</strong></p>
<p>Reference: <code>{provider_ref}</code></p>
<p>Status: <strong id="status">{status}</strong></p>
{actions}
</body>
</html>
"""
# No action attribute: the form posts back to the URL the page was loaded from, whatever
# proxy or prefix is in front of the sandbox.
_ACTIONS = """<form method="post">
<button type="submit" name="decision" value="pay">Pay</button>
<button type="submit" name="decision" value="decline">Decline</button>
</form>
"""


def format_amount(amount_minor: int, currency: str) -> str:
    """``1250, "EUR"`` -> ``"12.50 EUR"``, with integer arithmetic (two minor digits)."""
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(amount_minor), 100)
    return f"{sign}{whole}.{cents:02d} {currency}"


def awaits_payer(op: Operation) -> bool:
    return op.state == "pending" and op.behaviour.outcome == "wait_for_payer"


def render_pay_page(op: Operation) -> str:
    """The page for ``op``, with Pay / Decline buttons while it awaits the payer."""
    actions = _ACTIONS if awaits_payer(op) else ""
    return _PAGE.format(
        amount=escape(format_amount(op.amount_minor, op.currency)),
        provider_ref=escape(op.provider_ref),
        status=escape(op.state),
        actions=actions,
    )
