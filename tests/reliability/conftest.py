"""The reliability tests also talk to localstripe (a fake Stripe), as the payment tests do."""

from tests.payments.conftest import localstripe, localstripe_server

__all__ = ["localstripe", "localstripe_server"]
