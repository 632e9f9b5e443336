/* bench/udp_blast.c: sends COUNT small UDP datagrams as fast as it can with sendmmsg, one in EVERY to port
 * PORT+1 and the rest to PORT, so a filter on PORT+1 matches 1/EVERY of the traffic.
 * Usage: udp_blast DEST_IPV4 PORT COUNT EVERY   (bench/capture.sh runs it inside its own namespace)
 * Bounded: sends exactly COUNT datagrams, then prints the elapsed time and rate. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <errno.h>

#define BATCH 1024

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s DEST_IPV4 PORT COUNT EVERY\n", argv[0]);
        return 2;
    }
    long count = atol(argv[3]), every = atol(argv[4]);
    int port = atoi(argv[2]);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) { perror("socket"); return 1; }
    struct sockaddr_in dst[2];
    for (int i = 0; i < 2; i++) {
        memset(&dst[i], 0, sizeof dst[i]);
        dst[i].sin_family = AF_INET;
        dst[i].sin_port = htons(port + i);
        if (inet_pton(AF_INET, argv[1], &dst[i].sin_addr) != 1) { fprintf(stderr, "bad address\n"); return 2; }
    }
    static char payload[18] = "netdiag-bench-udp";
    static struct mmsghdr msgs[BATCH];
    static struct iovec iov[BATCH];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long sent = 0;
    while (sent < count) {
        int n = count - sent < BATCH ? (int)(count - sent) : BATCH;
        for (int i = 0; i < n; i++) {
            long k = sent + i;
            iov[i].iov_base = payload;
            iov[i].iov_len = sizeof payload;
            memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &dst[(k % every) == 0 ? 1 : 0];
            msgs[i].msg_hdr.msg_namelen = sizeof dst[0];
        }
        int r = sendmmsg(fd, msgs, n, 0);
        if (r < 0) {
            if (errno == ENOBUFS || errno == EAGAIN) continue;
            perror("sendmmsg");
            return 1;
        }
        sent += r;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("sent %ld datagrams in %.3f s (%.0f/s)\n", sent, s, sent / s);
    return 0;
}
