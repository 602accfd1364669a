"""One warm "Lambda container" for one of AWS's reference rotation functions (bench/reference.ts).

Imports the function's lambda_function.py once from the directory given as argv[1], then reads one
JSON request per line on stdin ({"id", "event"}), calls lambda_handler(event, context) and answers
one JSON line ({"id", "ok", "error"?}) on the protocol pipe (the process's original stdout). The
reference code is not changed; two import shims adapt only what the benchmark machine lacks:

- the functions trust '/etc/pki/tls/cert.pem' (Amazon Linux's CA bundle on Lambda); the shims hand
  the driver REFERENCE_CA_FILE instead (this machine's CA bundle plus the benchmark's test CA), with
  every other option, and so verification (chain and host name), as the function wrote it;
- PostgreSQL functions import PyGreSQL's `pg` and `pgdb`, used as they are.

Logging: Lambda's Python runtime puts a handler on the root logger; here one writes to /dev/null,
so that formatting every log line is paid as on Lambda.
"""

import importlib.util
import json
import logging
import os
import sys
import time
import traceback

LAMBDA_CA_FILE = '/etc/pki/tls/cert.pem'
CA_FILE = os.environ['REFERENCE_CA_FILE']

protocol = os.fdopen(os.dup(1), 'w', buffering=1)
# Anything the function prints goes to stderr, never into the protocol.
os.dup2(2, 1)
sys.stdout = sys.stderr

logging.getLogger().addHandler(logging.StreamHandler(open(os.devnull, 'w')))


def shim_pymysql():
    import pymysql

    connect = pymysql.connect

    def shimmed(*args, **kwargs):
        ssl = kwargs.get('ssl')
        if isinstance(ssl, dict) and ssl.get('ca') == LAMBDA_CA_FILE:
            kwargs['ssl'] = {**ssl, 'ca': CA_FILE}
        return connect(*args, **kwargs)

    pymysql.connect = shimmed


def shim_pgdb():
    import pgdb

    connect = pgdb.connect

    def shimmed(*args, **kwargs):
        if kwargs.get('sslrootcert') == LAMBDA_CA_FILE:
            kwargs['sslrootcert'] = CA_FILE
        return connect(*args, **kwargs)

    pgdb.connect = shimmed


class Context:
    """The attributes of Lambda's context object that the functions read or log."""

    def __init__(self, request_id, timeout_ms):
        self.function_name = os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'reference')
        self.aws_request_id = request_id
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self):
        return int((self._deadline - time.monotonic()) * 1000)

    def __repr__(self):
        return f'LambdaContext([aws_request_id={self.aws_request_id},function_name={self.function_name}])'


def main():
    directory = sys.argv[1]
    source = open(os.path.join(directory, 'lambda_function.py')).read()
    if 'import pymysql' in source:
        shim_pymysql()
    if 'import pgdb' in source:
        shim_pgdb()
    spec = importlib.util.spec_from_file_location('lambda_function', os.path.join(directory, 'lambda_function.py'))
    module = importlib.util.module_from_spec(spec)
    sys.modules['lambda_function'] = module
    spec.loader.exec_module(module)
    protocol.write(json.dumps({'ready': True}) + '\n')
    for line in sys.stdin:
        request = json.loads(line)
        answer = {'id': request['id'], 'ok': True}
        try:
            module.lambda_handler(request['event'], Context(str(request['id']), request.get('timeoutMs', 30000)))
        except Exception as error:  # the step failed: the stack records it as the function's error
            answer = {'id': request['id'], 'ok': False, 'error': f'{type(error).__name__}: {error}'}
            traceback.print_exc(file=sys.stderr)
        protocol.write(json.dumps(answer) + '\n')


main()
