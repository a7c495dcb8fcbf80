"""AlphaGeometry's environment: problem text, numeric diagrams, the DD+AR engine (newclid with its
compiled yuclid backend) behind a small adapter, and the traceback of proofs."""
