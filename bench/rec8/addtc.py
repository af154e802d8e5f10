import sys
# (h-rec8) addtc.py SRC DST: copy of rt.c that prints "TC <main-thread CPU us> <process CPU us>" at exit
src,dst=sys.argv[1],sys.argv[2]
s=open(src).read()
s=s.replace('''    ht__rt_record(HT_EV_EXIT, 0, (uint64_t)(int64_t)status, 0, 0, 0);
    struct ht_spill_header *h = g_hdr;''','''    ht__rt_record(HT_EV_EXIT, 0, (uint64_t)(int64_t)status, 0, 0, 0);
    { struct timespec a,b; clock_gettime(CLOCK_THREAD_CPUTIME_ID,&a); clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&b);
      char buf[100]; char *p=buf; memcpy(p,"TC ",3); p+=3; p=ht__rt_utoa(p,(uint64_t)a.tv_sec*1000000+a.tv_nsec/1000); *p++=' '; p=ht__rt_utoa(p,(uint64_t)b.tv_sec*1000000+b.tv_nsec/1000); *p++='\\n'; write(2,buf,p-buf);}
    struct ht_spill_header *h = g_hdr;''')
open(dst,'w').write(s)
