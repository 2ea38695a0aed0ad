/*
 * Per-program-step instruction counts, for the profiling firmware only
 * (host/firmware/profile-build.ts, `npm run bench:mcu`). That build compiles the
 * runtime's profiling module (host/profile/instrument.ts), whose program step i starts
 * with a call to the import env.profileMark(i), defines TT_PROFILE and links
 * profile-marks.c. The shipped firmware does not define TT_PROFILE: the hooks below are
 * then empty and main.c compiles to the same code as without them.
 */
#ifndef TT_PROFILE_MARKS_H
#define TT_PROFILE_MARKS_H

#ifdef TT_PROFILE
/* Around each Z_ttZ_trainStep call: opens and closes one row of the table. */
void tt_profile_step_begin(void);
void tt_profile_step_end(void);
/* After the JSON report: the rows as `tt-profile` console lines (parsed by host/firmware/profile-build.ts). */
void tt_profile_report(void);
#define TT_PROFILE_STEP_BEGIN() tt_profile_step_begin()
#define TT_PROFILE_STEP_END() tt_profile_step_end()
#define TT_PROFILE_REPORT() tt_profile_report()
#else
#define TT_PROFILE_STEP_BEGIN() ((void)0)
#define TT_PROFILE_STEP_END() ((void)0)
#define TT_PROFILE_REPORT() ((void)0)
#endif

#endif
