/*
 * growfile.h - a file one thread is still writing while another reads it.
 *
 * A save receives each archive from the builder as a stream and writes it
 * to a file; the upload can read and send the blocks already written
 * instead of waiting for the last byte. The writer announces the final
 * size when it starts (the stream's tar header says it), then how many
 * bytes from offset 0 are in the file, and at the end a verdict: BK_OK when
 * the file is whole and checked (the reader may then commit what it sent),
 * anything else when it must not be used. The reader waits on those
 * events; it reads the file itself, with pread on its own descriptor.
 *
 * Every function is safe to call from any thread; the first end() wins and
 * later ones are ignored, so a caller that cleans up may end() a file the
 * writer never started (BK_ENOTFOUND: nothing will come).
 */
#ifndef BK_GROWFILE_H
#define BK_GROWFILE_H

#include <stdint.h>

struct bk_growfile;

struct bk_growfile *bk_growfile_new(void);
void bk_growfile_free(struct bk_growfile *g);

/* ---- the writer ---- */
/* The file exists and will hold `size` bytes. */
void bk_growfile_begin(struct bk_growfile *g, uint64_t size);
/* Bytes [0, written) are in the file. */
void bk_growfile_wrote(struct bk_growfile *g, uint64_t written);
/* The verdict: BK_OK (whole and verified) or why not (negative bk_status). */
void bk_growfile_end(struct bk_growfile *g, int rc);

/* ---- the reader ---- */
/* Without waiting: 1 when begun (*size set), 0 while neither begun nor
 * ended, else the status it ended with before it began (BK_ENOTFOUND when
 * it ended with BK_OK: nothing came). */
int bk_growfile_poll_begun(struct bk_growfile *g, uint64_t *size);
/* Wait until bytes [0, end) are in the file: BK_OK; or the verdict when
 * it came first and was not BK_OK (error message set). */
int bk_growfile_wait(struct bk_growfile *g, uint64_t end);
/* Wait for the verdict and return it (error message set when not BK_OK). */
int bk_growfile_wait_end(struct bk_growfile *g);
/* Without waiting: 1 when ended with BK_OK, 0 while not ended, else the
 * verdict (error message set). */
int bk_growfile_poll_end(struct bk_growfile *g);

#endif
