#!/usr/bin/env python3
"""练习 09 / Exercise 09: 把文件从一台 FTP 服务器移到另一台 / move files between FTP servers (2.1.4).

把 ftp:exercise-outbox 里名字符合 *.dat 的文件移到 ftp-backup:exercise-inbox。
Move the files named *.dat from ftp:exercise-outbox to ftp-backup:exercise-inbox.
Check it: lab-check 09
"""

import fnmatch
import ftplib
import io

SOURCE = 'ftp'                  # 源服务器 / where the files are
TARGET = 'ftp-backup'           # 目标服务器 / where they go
USER = 'student'
PASSWD = 'password'
SOURCE_DIR = 'exercise-outbox'
TARGET_DIR = 'exercise-inbox'
PATTERN = '*.dat'


def connect(host, folder):
    f = ftplib.FTP(host, timeout=10)
    f.login(USER, PASSWD)
    f.cwd(folder)
    return f


def main():
    src = connect(SOURCE, SOURCE_DIR)
    dst = connect(TARGET, TARGET_DIR)
    names = src.nlst()
    print('*** %d files on %s:%s' % (len(names), SOURCE, SOURCE_DIR))
    # TODO 1: 只挑出符合 PATTERN 的文件名 (fnmatch.fnmatch)
    #         keep only the names that match PATTERN (fnmatch.fnmatch)
    # TODO 2: 对每个文件: retrbinary() 读出, storbinary() 写到目标 (二进制!)
    #         for each file: retrbinary() from the source, storbinary() to the target (binary!)
    # TODO 3: 复制成功后才 delete() 源文件; 某个文件失败 (ftplib.error_perm) 时
    #         保留源文件, 打印一行错误, 继续下一个文件
    #         delete() the source only after the copy succeeded; when one file fails
    #         (ftplib.error_perm) keep its source, print one line, go on with the next
    src.quit()
    dst.quit()


if __name__ == '__main__':
    main()
