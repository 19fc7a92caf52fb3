"""The OIDC protocol layer: the only package that uses Authlib's server side."""
