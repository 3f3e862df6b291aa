#!/usr/bin/env python3
"""Size limits of src/: no file over 500 lines, no function over 60 lines.

A function may be longer only when the comment lines just above it (doc or plain) contain
`long:` and say why (a table, a state machine read top to bottom). Usage:
`check-sizes.py [SRC]` (default: the src/ beside this script's folder); exit 1 and one line
per excess otherwise. Functions are found by `fn name` and matched braces, with strings,
chars and comments skipped, which is enough for this code base's style (rustfmt).
"""
import os
import re
import sys

MAX_FILE = 500
MAX_FN = 60
FN = re.compile(r'^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)')


def blank_code(text):
    """The text with strings, chars and comments replaced by spaces (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i)); i = j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j])); i = j
        elif c == 'r' and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == '_')):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = '"' + hashes
            j = text.find(end, i + len(hashes) + 2)
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r'[^\n]', ' ', text[i:j])); i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == '\\' else 1
            out.append(re.sub(r'[^\n]', ' ', text[i:j + 1])); i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'|'\\x..'", text[i:i + 12]):
            m = re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'|'\\x..'", text[i:i + 12])
            out.append(' ' * len(m.group(0))); i += len(m.group(0))
        else:
            out.append(c); i += 1
    return ''.join(out)


def long_functions(path):
    raw = open(path, encoding='utf-8').read().split('\n')
    code = blank_code('\n'.join(raw)).split('\n')
    found = []
    for k, line in enumerate(code):
        m = FN.match(line)
        if not m:
            continue
        depth, start, end = 0, None, None
        for j in range(k, len(code)):
            for ch in code[j]:
                if ch == '{':
                    depth += 1
                    start = j if start is None else start
                elif ch == '}':
                    depth -= 1
                    if start is not None and depth == 0:
                        end = j
                        break
                elif ch == ';' and start is None:
                    end = -1  # a declaration without a body
                    break
            if end is not None:
                break
        if end is None or end < 0:
            continue
        length = end - k + 1
        if length <= MAX_FN:
            continue
        above, j = [], k - 1
        while j >= 0 and (raw[j].strip().startswith('//') or raw[j].strip().startswith('#[')):
            above.append(raw[j]); j -= 1
        if any('long:' in a for a in above):
            continue
        found.append((m.group(1), k + 1, length))
    return found


def main(argv):
    src = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')
    bad = []
    for root, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith('.rs'):
                continue
            p = os.path.join(root, f)
            rel = os.path.relpath(p, src)
            lines = open(p, encoding='utf-8').read().count('\n')
            if lines > MAX_FILE:
                bad.append(f'src/{rel}: {lines} lines (at most {MAX_FILE})')
            for name, at, length in long_functions(p):
                bad.append(f'src/{rel}:{at}: fn {name} is {length} lines (at most {MAX_FN}; or say why in a `long:` comment above it)')
    for b in bad:
        print(b)
    if bad:
        return 1
    print('check-sizes: no file over 500 lines, no function over 60 lines')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
