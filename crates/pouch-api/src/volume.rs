//! Docker's volume objects (`/volumes` endpoints).
