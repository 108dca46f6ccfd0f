//! Docker's network objects (`/networks` endpoints).
