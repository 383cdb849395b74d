# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to the containment.docker collection: no compatibility promise outside it.
#
# Secrets: which values are secret, how they are read on the managed host (env files,
# secret files), how a change is detected without the value ever leaving the host, and
# how the texts the collection prints are kept free of them.
#
#   secret_names()  the env names whose values are never printed;
#   parse_env_file() the docker CLI's --env-file format;
#   read_secret_file() a secret file's digest, ownership and mode;
#   file_digest() / digest_matches()  the label that detects a changed secret file;
#   redact() / redact_deep()  the second line of defence over texts the app wrote (logs).
# No Docker import; reading files is the only I/O.

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import stat

# What the diff, the reasons and the role's summary say instead of a value.
HIDDEN = '(secret)'
CHANGED = '(secret changed)'
REDACTED = '********'

# Env names that look like they hold a secret: their values are hidden even when given as
# plain `env`, and the audit advises moving them to secret files.
_LOOKS_SECRET = re.compile(r'(PASSWORD|PASSWD|TOKEN|SECRET)|_KEY$|^KEY$', re.IGNORECASE)
# A secret's name becomes a file name under /run/secrets and a label key.
SECRET_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]*', re.ASCII)  # matched whole (fullmatch)
DEFAULT_SECRETS_DIR = '/run/secrets'


def looks_secret(name):
    return bool(_LOOKS_SECRET.search(str(name)))


def secret_names(names, declared=()):
    """The names among `names` whose values must never be printed: declared secret, or looking like one."""
    declared = set(declared)
    return set(n for n in names if n in declared or looks_secret(n))


# ---------------------------------------------------------------- env files

class EnvFileError(ValueError):
    """A line the docker CLI would refuse; the message never holds a value."""


def parse_env_file(text, environ=None):
    """{NAME: value} from the text of an env file, read as `docker run --env-file` reads it:

    - a UTF-8 byte order mark at the start is dropped; leading whitespace of a line is dropped;
    - blank lines and lines starting with `#` are skipped (a `#` later in a line is part of the value);
    - `NAME=VALUE`: the value is taken as is, no quotes removed, no trimming, no expansion;
    - `NAME` alone: the value of NAME in `environ` (the module's environment), skipped when unset;
    - a name with whitespace, or a line without a name, is an error (its text is never repeated);
    - a name given twice: the last one wins (as the engine does with repeated variables).
    """
    environ = os.environ if environ is None else environ
    values = {}
    if text.startswith('\ufeff'):
        text = text[1:]
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith('#'):
            continue
        name, sep, value = line.partition('=')
        if not name:
            raise EnvFileError('line %d has no variable name' % number)
        if any(c.isspace() for c in name):
            raise EnvFileError('line %d: the variable name contains whitespace' % number)
        if sep:
            values[name] = value
        elif name in environ:
            values[name] = environ[name]
    return values


def read_env_file(path):
    """(values, problem): the parsed file, or None and what went wrong (no value in it)."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        return None, 'cannot read env file %s: %s' % (path, exc.strerror or type(exc).__name__)
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError:
        return None, 'env file %s is not UTF-8 text' % path
    try:
        return parse_env_file(text), None
    except EnvFileError as exc:
        return None, 'env file %s: %s' % (path, exc)


# ---------------------------------------------------------------- secret files

def read_secret_file(path):
    """({'sha256', 'content', 'uid', 'gid', 'mode'}, problem) of a secret file on this host."""
    try:
        info = os.stat(path)
    except (IOError, OSError) as exc:
        return None, 'cannot read secret file %s: %s' % (path, exc.strerror or type(exc).__name__)
    if not stat.S_ISREG(info.st_mode):
        return None, 'secret file %s is not a regular file' % path
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        return None, 'cannot read secret file %s: %s' % (path, exc.strerror or type(exc).__name__)
    return {'sha256': hashlib.sha256(data).hexdigest(), 'content': data.decode('utf-8', 'replace'),
            'uid': info.st_uid, 'gid': info.st_gid, 'mode': stat.S_IMODE(info.st_mode)}, None


def readable_by(uid, gid, owner, group, mode):
    """Whether a process running as uid:gid (no supplementary groups, no capabilities: the policy
    drops them all) may read a file of owner:group and mode, by the kernel's rule (the first class that
    matches decides: owner, then group, then others)."""
    if uid == owner:
        return bool(mode & stat.S_IRUSR)
    if gid == group:
        return bool(mode & stat.S_IRGRP)
    return bool(mode & stat.S_IROTH)


# ---------------------------------------------------------------- change detection
#
# A secret file's content is not visible in `docker inspect`, so its change is detected through
# a label. Labels are read by more people than the secret (dashboards, log shippers, Prometheus
# service discovery, anyone pasting `docker inspect` into a ticket), and whoever can open a pull
# request knows every other field of the spec. A plain sha256 of a short password in a label, or
# of the whole spec with the password in it, can therefore be brute-forced offline by guessing.
# The label holds instead a salted scrypt of the content's sha256: a random salt per secret and
# container (no precomputed tables, no comparing two hosts), and a memory-hard cost per guess
# (~50 ms here), the way password hashes are stored. It is verified against the salt it carries,
# so the next run, from any controller, needs no key of its own. Environment values (secret_env,
# env_file) are compared with the live container's Config.Env directly and never hashed: Docker
# keeps them there in clear already, and the spec hash only carries their names.

_SCRYPT = dict(n=2 ** 14, r=8, p=1, dklen=32)


def _b64(data):
    return base64.urlsafe_b64encode(data).decode('ascii').rstrip('=')


def _unb64(text):
    return base64.urlsafe_b64decode(str(text) + '=' * (-len(str(text)) % 4))


def file_digest(sha256_hex, salt=None):
    """The label value for a secret file: 'scrypt$N$r$p$salt$digest'."""
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.scrypt(sha256_hex.encode('ascii'), salt=salt, **_SCRYPT)
    return 'scrypt$%d$%d$%d$%s$%s' % (_SCRYPT['n'], _SCRYPT['r'], _SCRYPT['p'], _b64(salt), _b64(digest))


def digest_matches(sha256_hex, label):
    """Whether a label written by file_digest() is the digest of this content."""
    parts = str(label or '').split('$')
    if len(parts) != 6 or parts[0] != 'scrypt':
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        if (n, r, p) != (_SCRYPT['n'], _SCRYPT['r'], _SCRYPT['p']):  # no cost chosen by the label's writer
            return False
        digest = hashlib.scrypt(sha256_hex.encode('ascii'), salt=_unb64(parts[4]), n=n, r=r, p=p, dklen=_SCRYPT['dklen'])
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(_b64(digest), parts[5])


# ---------------------------------------------------------------- keeping values out of texts

def values_of(spec):
    """Every secret value a normalised spec holds: secret_env (and env_file) values, env values whose
    names look secret, and the contents of secret files (a whole file and each of its lines)."""
    values = set(spec.get('secret_env', {}).values())
    values.update(v for k, v in spec.get('env', {}).items() if looks_secret(k))
    for item in spec.get('secrets') or []:
        content = item.get('content') or ''
        values.add(content)
        values.update(line.strip() for line in content.splitlines())
    return set(v for v in values if v and v.strip())


def redact(text, values):
    """text with every occurrence of a secret value replaced, longest first."""
    if not isinstance(text, str) or not text:
        return text
    for value in sorted(values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def redact_deep(data, values):
    """A copy of data (dicts, lists, strings) with every secret value replaced in every string."""
    if not values:
        return data
    if isinstance(data, str):
        return redact(data, values)
    if isinstance(data, dict):
        return dict((redact(k, values), redact_deep(v, values)) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return type(data)(redact_deep(v, values) for v in data)
    return data


def raw_values(raw):
    """Secret values straight from a service as given (before any checking), to register with
    Ansible's output masking as early as possible: secret_env values, and env values whose names look
    secret, whatever shape they were given in (a dict, or a list of NAME=VALUE strings), and the
    credentials in the mounts' volume_options."""
    found = set()
    if not isinstance(raw, dict):
        return found
    for key, every_name in (('secret_env', True), ('env', False)):
        value = raw.get(key)
        if isinstance(value, dict):
            pairs = [(name, item) for name, item in value.items() if not isinstance(item, (dict, list, bool))]
        elif isinstance(value, (list, tuple)):
            pairs = []
            for text in value:
                name, _sep, item = str(text).partition('=')
                pairs.append((name, item))
                if every_name or looks_secret(name):
                    found.add(str(text))
        else:
            continue
        found.update(str(item) for name, item in pairs if item is not None and (every_name or looks_secret(name)))
    found.update(value for _mount, _key, value in _volume_option_secrets(raw))
    return set(v for v in found if v.strip())


def _volume_option_secrets(raw):
    """(mount index, option key, secret value) of the mounts' volume_options that hold a credential: an option
    whose name looks secret, or such a NAME=VALUE part of the mount options `o` (cifs: o=username=u,password=p)."""
    mounts = raw.get('mounts') if isinstance(raw, dict) else None
    found = []
    for index, mount in enumerate(mounts if isinstance(mounts, (list, tuple)) else []):
        options = mount.get('volume_options') if isinstance(mount, dict) else None
        for key, value in (options.items() if isinstance(options, dict) else []):
            if looks_secret(key) and value is not None:
                found.append((index, key, str(value)))
            elif str(key) == 'o':
                for part in str(value).split(','):
                    name, sep, item = part.partition('=')
                    if sep and (looks_secret(name) or name.strip() == 'pass') and item:  # mount.cifs: pass= is password=
                        found.append((index, key, item))
    return found


def masked_service(raw):
    """A service as given, for the module arguments Ansible echoes at -vvv: secret_env values and the
    values of env names that look secret replaced (the env file and secret file paths stay), and the
    credentials in the mounts' volume_options."""
    if not isinstance(raw, dict):
        return raw
    result = dict(raw)
    for key, every_name in (('secret_env', True), ('env', False)):
        value = raw.get(key)
        if isinstance(value, dict):
            result[key] = dict((k, HIDDEN if every_name or looks_secret(k) else v) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            result[key] = [str(t).partition('=')[0] + '=' + HIDDEN if every_name or looks_secret(str(t).partition('=')[0])
                           else t for t in value]
        elif value is not None and every_name:
            result[key] = HIDDEN
    secrets_in_mounts = _volume_option_secrets(raw)
    if secrets_in_mounts:
        result['mounts'] = [dict(m, volume_options=dict(m['volume_options'])) if isinstance(m, dict) and isinstance(
            m.get('volume_options'), dict) else m for m in raw['mounts']]
        for index, key, value in secrets_in_mounts:
            options = result['mounts'][index]['volume_options']
            options[key] = HIDDEN if str(options[key]) == value else str(options[key]).replace(value, HIDDEN)
    return result
