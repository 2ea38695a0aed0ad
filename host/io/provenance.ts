/**
 * The marks tinytrain leaves in the files it writes, so that a later command can tell its
 * own output (which it may replace) from a user's file (which it must not touch). The
 * writers stamp them; host/io/output-paths.ts recognises them. Checkpoints carry their
 * own magic (host/checkpoint.ts CHECKPOINT_MAGIC); artifact folders their manifest.
 */

/** `manifest.json` "format" of an artifact folder (compiler/manifest.ts). */
export const ARTIFACT_FORMAT = 'tinytrain-artifact@1';

/** Content of `<meta name="generator">` in the page `report --html` writes. */
export const HTML_REPORT_GENERATOR = 'tinytrain report';
export const HTML_REPORT_META = `<meta name="generator" content="${HTML_REPORT_GENERATOR}">`;

/** `"generator"` of a model file written by `pretrain` (a hand-written model has none). */
export const PRETRAINED_MODEL_GENERATOR = 'tinytrain pretrain';

/**
 * A string every firmware ELF holds in .rodata: the prefix targets/firmware/main.c prints
 * before each fatal message (stop()), which is always linked. Not a new symbol: nothing had
 * to change in the firmware for old builds to be recognised too.
 */
export const FIRMWARE_MARKER = 'tinytrain-firmware: ';

/** The format of a C library folder's tinytrain-c.json (host/clib/export.ts), which names every file it holds. */
export const C_LIBRARY_FORMAT = 'tinytrain-c-library@1';
/** The file in a C library folder that says what tinytrain wrote there. */
export const C_LIBRARY_MARKER = 'tinytrain-c.json';
