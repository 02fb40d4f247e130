"""The transactional outbox: messages for the world outside, written with the change that caused them."""
