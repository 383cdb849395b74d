/*
 * become-root: the "sudo su root" of the walkthrough, as a setuid-root program.
 *
 *   become-root COMMAND [ARG...]
 *
 * Installed in the rando-doggos image owned by root with mode 4755: an exec() of it
 * gives the caller an effective uid of 0, unless the process runs with no_new_privs
 * (docker run --security-opt no-new-privileges), where the kernel ignores the setuid
 * bit. It then tries to become root for good and runs COMMAND, so
 * `become-root id -u` prints 0 when the attack works and the caller's uid when not.
 * Compiled static by scripts/build-images (the image is FROM scratch: no libc).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: become-root COMMAND [ARG...]\n");
        return 2;
    }
    /* setgid first: it needs the privilege that setuid(0) would give up */
    if (setgid(0) != 0 || setuid(0) != 0)
        fprintf(stderr, "become-root: still uid %d (euid %d): %s\n", (int)getuid(), (int)geteuid(), strerror(errno));
    execvp(argv[1], argv + 1);
    fprintf(stderr, "become-root: %s: %s\n", argv[1], strerror(errno));
    return 127;
}
