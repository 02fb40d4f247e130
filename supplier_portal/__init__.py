"""The supplier portal: supplier-facing HTML routes (controllers only; they call dps/ and catalogue/)."""
