/**
 * The series the last request of a proxy went to, and what picked it: a request like it (same
 * group, response, flags and peer: the usual run of traffic) takes that series again, without its
 * key string made and looked up (telemetry.ts). Series live as long as the process, and a group is
 * a config's object (a push makes new ones), so a remembered series is never a stale one.
 */
import type { Series } from './metrics';

export class LastSeries {
  constructor(
    readonly group: object,
    readonly inbound: boolean,
    readonly status: number,
    readonly flags: string,
    readonly grpcStatus: number | undefined,
    /** Inbound: the client's principal and the service index; outbound: the upstream endpoint. */
    readonly principal: string | undefined,
    readonly service: number,
    readonly upstream: string | undefined,
    readonly series: Series,
  ) {}

  matches(
    group: object,
    inbound: boolean,
    status: number,
    flags: string,
    grpcStatus: number | undefined,
    principal: string | undefined,
    service: number,
    upstream: string | undefined,
  ): boolean {
    return (
      this.group === group &&
      this.inbound === inbound &&
      this.status === status &&
      this.flags === flags &&
      this.grpcStatus === grpcStatus &&
      this.principal === principal &&
      this.service === service &&
      this.upstream === upstream
    );
  }
}
