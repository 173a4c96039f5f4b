#!/usr/bin/env python3
"""练习 08 / Exercise 08: ftplib 客户端 / an ftplib client (2.1.3).

在 ftp 主机上做两遍同样的操作: 第一遍被动模式, 第二遍主动模式。
Do the same work twice on the host ftp: first in passive, then in active mode.
Check it: lab-check 08
"""

import ftplib

HOST = 'ftp'
USER = 'student'
PASSWD = 'password'
DIRN = 'exercise-08'        # 服务器上的练习目录 / the exercise's folder on the server


def work(f, mode):
    """在 exercise-08/<mode> 里做一遍 / one pass in the folder exercise-08/<mode>."""
    print('*** pass in', mode, 'mode')
    # TODO 1: cwd() 进入 exercise-08/<mode>, 用 dir() 列出目录内容
    #         cwd() into exercise-08/<mode> and list it with dir()
    # TODO 2: 用 retrbinary() 下载 download.bin, 存为本地文件 <mode>-download.bin
    #         download download.bin with retrbinary() into the local file <mode>-download.bin
    # TODO 3: 用 storbinary() 上传本地文件 upload.bin (二进制!)
    #         upload the local file upload.bin with storbinary() (binary!)
    # TODO 4: rename('old.txt', 'new.txt'), delete('delete-me.txt'),
    #         mkd('new-dir'), rmd('remove-me')


def main():
    try:
        f = ftplib.FTP(HOST, timeout=10)
    except OSError as e:
        print('ERROR: cannot reach "%s": %s' % (HOST, e))
        return
    print('*** Connected to host "%s"' % HOST)
    try:
        f.login(USER, PASSWD)
        print('*** Logged in as', USER)
        work(f, 'passive')      # 第一遍: 被动模式 (ftplib 的默认) / passive (ftplib's default)
        # TODO 5: 切换到主动模式再做第二遍 / switch to active mode for the second pass
        work(f, 'active')
    except ftplib.all_errors as e:
        print('ERROR:', e)
    finally:
        f.quit()


if __name__ == '__main__':
    main()
