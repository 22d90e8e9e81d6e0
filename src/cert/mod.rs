//! Certificates: issuing one certificate for a set of names and checking the ones hosts hold.
