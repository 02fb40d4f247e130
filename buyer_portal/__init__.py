"""The buyer portal: buyer-facing HTML routes (controllers only; they call dps/ and catalogue/)."""
