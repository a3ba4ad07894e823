/**
 * Liveness of one websocket peer, used by both ends. A peer is pinged only
 * when it has been quiet for a whole period: any frame, ping or pong from it
 * already proves it alive, so on a connection that carries heartbeats (health
 * every 15 s) no ping is ever sent. A ping that is not answered by the next
 * tick ends the connection. With 5000 idle agents this halves the frames the
 * hub writes and reads (bench/RESULTS.md, "Hub capacity").
 */
export class Keepalive {
  #heard = false;
  #pinged = false;
  readonly #timer: NodeJS.Timeout;

  /**
   * @param periodMs how often to look; a dead peer is noticed after 2 to 3 periods.
   * @param ping sends a ping to the peer.
   * @param dead called once the peer missed a ping; the caller closes the socket.
   */
  constructor(periodMs: number, ping: () => void, dead: () => void) {
    this.#timer = setInterval(() => {
      if (this.#heard) {
        this.#heard = false;
        this.#pinged = false;
      } else if (this.#pinged) {
        this.stop();
        dead();
      } else {
        this.#pinged = true;
        ping();
      }
    }, periodMs);
    // The socket, not this timer, keeps a process alive.
    this.#timer.unref();
  }

  /** Anything arrived from the peer (a frame, a ping, a pong). */
  heard(): void {
    this.#heard = true;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
