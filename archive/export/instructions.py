"""``VERIFY.txt`` and ``核验说明.txt``: how to check a package by hand, with `sha256sum` and
`openssl` (and the shell's printf, cat, sed, head, tail, cut, grep, cmp, wc, mktemp).

Both files hold the same commands, written out for this package's own files (every key, every
entry, every proof step), so that an examiner can run them one by one and see each check pass or
fail; a test runs them as written. Each command exits non-zero when its check fails. The prose is
in the file's language; the commands are the same bytes in both.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from archive.export import verify_package as vp

EN, ZH = "VERIFY.txt", "核验说明.txt"


def _q(rel: str) -> str:
    return shlex.quote(rel)


def _payload_of(rel: str) -> str:
    return f"sed 's/.*\"payload\":\"\\([^\"]*\\)\".*/\\1/' {_q(rel)} | openssl base64 -d -A"


def _pae_cmd(payload_type: str, payload_cmd: str, pae_rel: str) -> str:
    n = len(payload_type.encode("utf-8"))
    return (f"( printf 'DSSEv1 %d %s %d ' {n} {payload_type} \"$({payload_cmd} | wc -c)\"; {payload_cmd} ) "
            f"| cmp - {_q(pae_rel)}")


def _verify_cmd(keyid: str, sig_rel: str, data_rel: str) -> str:
    return (f"openssl pkeyutl -verify -rawin -pubin -inkey {vp.KEY_DIR}/{keyid}.pem -sigfile {_q(sig_rel)} "
            f"-in {_q(data_rel)}")


def sections(root: Path) -> list[tuple[str, str, list[str]]]:
    """(English title, Chinese title, commands) for each step, from the package's own files."""
    manifest = json.loads((root / vp.MANIFEST).read_text("utf-8"))
    log = manifest["archive"]["log_keyid"]
    rows = [json.loads(line) for line in (root / vp.ENTRIES).read_text("ascii").splitlines() if line]
    keys = sorted(p.name[:-4] for p in (root / vp.KEY_DIR).glob("*.pem"))
    enrolled = {}
    for r in rows:
        if r["kind"] == "enrollment":
            body = json.loads(_b64(r["envelope"]["payload"]))
            enrolled.setdefault(body["keyid"], r["idx"])
    note_text = (root / vp.CHECKPOINT_TEXT).read_bytes()
    out: list[tuple[str, str, list[str]]] = []

    files = ["sha256sum -c SHA256SUMS"]
    for item in manifest["items"]:
        p = _q(item["path"])
        for algo, sums in (("sm3", "SM3SUMS"), ("md5", "MD5SUMS")):
            files.append(f"grep -qxF \"$(openssl dgst -{algo} -r {p} | cut -d' ' -f1)  {item['path']}\" {sums}")
    out.append(("Every file against SHA256SUMS; each original's SM3 and MD5 against SM3SUMS and MD5SUMS",
                "逐个文件核对 SHA256SUMS；原始文件的 SM3、MD5 分别核对 SM3SUMS、MD5SUMS", files))

    key_cmds = []
    for k in keys:
        der = f"openssl pkey -pubin -in {vp.KEY_DIR}/{k}.pem -outform DER"
        key_cmds.append(f"{der} | tail -c 32 | sha256sum | grep -q '^{k} '")
        key_cmds.append(f"grep -q \"^$({der} | sha256sum | cut -c1-64)  {k}.pem\" {vp.FINGERPRINTS}")
        if k in enrolled:
            key_cmds.append(f"grep -qF '\"keyid\":\"{k}\"' {_q(vp.entry_file(enrolled[k], '.pae'))}")
    out.append(("Each public key: its file name is its key id (SHA-256 of the raw key), its fingerprint (SHA-256 of "
                "the DER) is the one in keys/FINGERPRINTS, and an enrollment entry of the package enrolls it",
                "每个公钥：文件名即密钥标识（原始公钥的 SHA-256），指纹（DER 编码的 SHA-256）与 "
                "keys/FINGERPRINTS 一致，并由包内一条登记记录登记", key_cmds))

    der = f"openssl pkey -pubin -in {vp.KEY_DIR}/{log}.pem -outform DER"
    cp = ["cat ledger/checkpoint.vkey",
          f"grep -qF \"$( (printf '\\001'; {der} | tail -c 32) | openssl base64 -A)\" {vp.VKEY}",
          f"head -c {len(note_text)} {vp.CHECKPOINT_NOTE} | cmp - {vp.CHECKPOINT_TEXT}",
          f"tail -n 1 {vp.CHECKPOINT_NOTE} | cut -d' ' -f3 | openssl base64 -d -A | tail -c 64 | cmp - "
          f"{vp.CHECKPOINT_SIG}",
          _verify_cmd(log, vp.CHECKPOINT_SIG, vp.CHECKPOINT_TEXT),
          f"cat {vp.CHECKPOINT_TEXT}"]
    out.append(("The checkpoint: compare the verifier key printed first with the one the bureau publishes "
                "(`bodycam archive log-key --vkey`); it is the archive log key; the note's signature verifies",
                "检查点：将首先显示的验证密钥与本局公布的验证密钥（`bodycam archive log-key --vkey`）比对；"
                "它就是档案库台账密钥；检查点签名验证通过", cp))

    export = [r for r in rows if r["kind"] == "export"]
    man = [_pae_cmd(vp.MANIFEST_TYPE, f"cat {vp.MANIFEST}", vp.MANIFEST_PAE),
           f"grep -qF \"\\\"payload\\\": \\\"$(openssl base64 -A -in {vp.MANIFEST})\\\"\" {vp.MANIFEST_DSSE}",
           f"grep -qF \"$(openssl base64 -A -in {vp.MANIFEST_SIG})\" {vp.MANIFEST_DSSE}",
           _verify_cmd(log, vp.MANIFEST_SIG, vp.MANIFEST_PAE)]
    for r in export:
        man.append(f"grep -qF \"\\\"manifest_sha256\\\":\\\"$(sha256sum {vp.MANIFEST} | cut -c1-64)\\\"\" "
                   f"{_q(vp.entry_file(r['idx'], '.pae'))}")
    segs = {r["entry_hash"]: r["idx"] for r in rows if r["kind"] == "segment"}
    for item in manifest["items"]:
        h = f"$(sha256sum {_q(item['path'])} | cut -c1-64)"
        man.append(f"grep -qF \"\\\"sha256\\\": \\\"{h}\\\"\" {vp.MANIFEST}")
        if item["segment_entry"] in segs:
            seg_pae = _q(vp.entry_file(segs[item["segment_entry"]], ".pae"))
            man.append(f"grep -qF \"\\\"sha256\\\":\\\"{h}\\\"\" {seg_pae}")
    out.append(("The manifest: manifest.pae is the DSSE encoding of manifest.json, signed by the archive log key; "
                "the export entry names the manifest's SHA-256; each original's SHA-256 is in the manifest and in "
                "its segment entry (signed by the recorder's key)",
                "清单：manifest.pae 为 manifest.json 的 DSSE 编码，由档案库台账密钥签名；导出记录载明清单的 SHA-256；"
                "每个原始文件的 SHA-256 载于清单及其视频片段记录（由执法记录仪自身密钥签名）", man))

    sig_cmds = []
    for p in sorted((root / vp.SIGNATURE_DIR).glob("*.dsse.json")) if (root / vp.SIGNATURE_DIR).is_dir() else []:
        env = json.loads(p.read_text("ascii"))
        stem = p.name[: -len(".dsse.json")]
        rel = f"{vp.SIGNATURE_DIR}/{p.name}"
        sig_rel = f"{vp.SIGNATURE_DIR}/{stem}.sig"
        for s in env["signatures"]:
            sig_cmds.append(f"grep -qF \"$(openssl base64 -A -in {_q(sig_rel)})\" {_q(rel)}")
            sig_cmds.append(_verify_cmd(s["keyid"], sig_rel, vp.MANIFEST_PAE))
    if sig_cmds:
        out.append(("Sign-offs by the supervisor and officers (A2 Art.16), over the same manifest.pae",
                    "主管领导和执法人员的签署（A2 第十六条），签署对象同为 manifest.pae", sig_cmds))

    entry_cmds = ["W=$(mktemp -d)"]
    for r in rows:
        idx, rel = r["idx"], vp.entry_file(r["idx"])
        ptype = r["envelope"]["payloadType"]
        entry_cmds.append(f"grep -qF '\"payloadType\":\"{ptype}\"' {rel}")
        entry_cmds.append(_pae_cmd(ptype, _payload_of(rel), vp.entry_file(idx, ".pae")))
        for s in r["envelope"]["signatures"]:
            if s["keyid"] in keys:
                sig_rel = vp.entry_sig_file(idx, s["keyid"])
                entry_cmds.append(f"grep -qF \"$(openssl base64 -A -in {sig_rel})\" {rel}")
                entry_cmds.append(_verify_cmd(s["keyid"], sig_rel, vp.entry_file(idx, ".pae")))
        proof = json.loads((root / vp.proof_file(idx)).read_text("ascii"))
        entry_cmds.append(f"( printf '\\000'; cat {rel} ) | openssl dgst -sha256 -binary > \"$W/h\"")
        for n, side in enumerate(proof["sides"]):
            sib = vp.sibling_file(idx, n)
            pair = f"{sib} \"$W/h\"" if side == "left" else f"\"$W/h\" {sib}"
            entry_cmds.append(f"( printf '\\001'; cat {pair} ) | openssl dgst -sha256 -binary > \"$W/n\"; "
                              f"mv \"$W/n\" \"$W/h\"")
        entry_cmds.append(f"sed -n 3p {vp.CHECKPOINT_TEXT} | openssl base64 -d -A | cmp - \"$W/h\"")
    out.append(("Each ledger entry: its PAE file is the DSSE encoding of its envelope, each signature verifies, and "
                "its RFC 9162 inclusion proof (leaf: SHA-256 of 0x00 and the envelope; nodes: SHA-256 of 0x01, left, "
                "right) leads to the checkpoint's root (its third line)",
                "每条台账记录：PAE 文件为其信封的 DSSE 编码，每个签名验证通过，RFC 9162 包含证明（叶：0x00 与信封的 "
                "SHA-256；节点：0x01、左、右的 SHA-256）得出检查点的根哈希（第三行）", entry_cmds))
    return out


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


_EN_HEAD = """Verifying this evidence package (bodycam export, case {case})

This folder holds bit-exact originals (originals/), their hashes (SHA256SUMS, SM3SUMS, MD5SUMS), a
manifest signed by the archive's log key (manifest.json, manifest.dsse.json), the ledger entries
the originals depend on with inclusion proofs against one signed checkpoint (ledger/), the public
keys as PEM files named by key id (keys/), and verify.py, which runs every check below at once:

    python3 -I verify.py

(only Python's standard library and openssl on the PATH). By hand, run the commands below in this
folder with a POSIX shell, one after another; each prints nothing or a short confirmation when its
check holds and exits non-zero when it fails. The tools are sha256sum, openssl (3.0 or later) and
the shell's printf, cat, sed, head, tail, cut, grep, cmp, wc and mktemp.

The trust root is the checkpoint's verifier key (ledger/checkpoint.vkey): compare it with the one
the bureau publishes before relying on anything else.
"""

_ZH_HEAD = """本证据包核验说明（bodycam 导出，案件 {case}）

本文件夹包含：逐位复制的原始文件（originals/）及其哈希值（SHA256SUMS、SM3SUMS、MD5SUMS）；由档案库
台账密钥签名的清单（manifest.json、manifest.dsse.json）；原始文件所依赖的台账记录及其对同一个已签名
检查点的包含证明（ledger/）；以密钥标识命名的 PEM 公钥（keys/）；以及一次完成下列全部检查的 verify.py：

    python3 -I verify.py

（只需 Python 标准库和 PATH 中的 openssl）。手工核验时，请在本文件夹中用 POSIX shell 逐条执行下列命令；
检查通过时命令不输出或只输出简短确认，检查失败时命令以非零状态退出。所用工具为 sha256sum、openssl（3.0
及以上）以及 shell 的 printf、cat、sed、head、tail、cut、grep、cmp、wc、mktemp。

信任根是检查点的验证密钥（ledger/checkpoint.vkey）：在依赖其他任何结果之前，先将其与本局公布的验证密钥比对。
"""


def render(root: Path) -> tuple[str, str]:
    """The English and the Chinese text."""
    case = json.loads((root / vp.MANIFEST).read_text("utf-8"))["case"]["case_id"]
    en, zh = [_EN_HEAD.format(case=case)], [_ZH_HEAD.format(case=case)]
    for n, (title_en, title_zh, cmds) in enumerate(sections(root), 1):
        body = "".join(f"    $ {c}\n" for c in cmds)
        en.append(f"\nStep {n}. {title_en}.\n\n{body}")
        zh.append(f"\n第 {n} 步：{title_zh}。\n\n{body}")
    return "".join(en), "".join(zh)


def commands(text: str) -> list[str]:
    """The commands of a VERIFY text, in order (the lines after ``$ ``)."""
    return [line[len("    $ "):] for line in text.splitlines() if line.startswith("    $ ")]


def write_instructions(root: Path, write) -> None:
    """VERIFY.txt, 核验说明.txt and verify.py into ``root`` (``write(root, rel, data)``)."""
    en, zh = render(root)
    write(root, EN, en.encode("utf-8"))
    write(root, ZH, zh.encode("utf-8"))
    write(root, "verify.py", Path(vp.__file__).read_bytes())
