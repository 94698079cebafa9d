/**
 * bench/next-floor: a bare Next app, the baseline of bench/stream.ts's part 3. Its stream route
 * holds a response open and writes what it is handed, with no sync code at all: what any route
 * handler streaming through `next start` costs, measured in the same run as the sync route. Built
 * into LOCKSTEP_DIST_DIR (a folder under .data/) by bench/next-floor.ts.
 */
const nextConfig = {
  distDir: process.env.LOCKSTEP_DIST_DIR ?? '.next',
};

export default nextConfig;
